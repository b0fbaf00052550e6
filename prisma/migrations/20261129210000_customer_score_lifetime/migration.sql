-- AlterTable: lifetime figures stored beside the segment by batch scoring (90-day horizon).
ALTER TABLE "CustomerScore" ADD COLUMN     "expectedOrders" DOUBLE PRECISION,
ADD COLUMN     "pAlive" DOUBLE PRECISION,
ADD COLUMN     "predictedClv" DOUBLE PRECISION;

-- CreateIndex
CREATE INDEX "CustomerScore_model_predictedClv_customerId_idx" ON "CustomerScore"("model", "predictedClv", "customerId");
