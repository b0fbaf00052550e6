-- CreateTable
CREATE TABLE "ModelPromotion" (
    "id" SERIAL NOT NULL,
    "model" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "promotedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "promotedBy" TEXT NOT NULL,
    "reason" TEXT NOT NULL,

    CONSTRAINT "ModelPromotion_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ModelPromotion_model_id_idx" ON "ModelPromotion"("model", "id");
