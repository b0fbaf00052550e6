-- CreateTable
CREATE TABLE "CustomerScore" (
    "customerId" UUID NOT NULL,
    "model" TEXT NOT NULL,
    "modelVersion" TEXT NOT NULL,
    "segment" TEXT NOT NULL,
    "probability" DOUBLE PRECISION NOT NULL,
    "probabilities" JSONB NOT NULL,
    "asOf" TIMESTAMPTZ(3) NOT NULL,
    "scoredAt" TIMESTAMPTZ(3) NOT NULL,
    "runId" INTEGER NOT NULL,

    CONSTRAINT "CustomerScore_pkey" PRIMARY KEY ("customerId","model")
);

-- CreateTable
CREATE TABLE "ScoreRun" (
    "id" SERIAL NOT NULL,
    "model" TEXT NOT NULL,
    "modelVersion" TEXT NOT NULL,
    "asOf" TIMESTAMPTZ(3) NOT NULL,
    "status" TEXT NOT NULL,
    "lastCustomerId" UUID,
    "customersScored" INTEGER NOT NULL DEFAULT 0,
    "pages" INTEGER NOT NULL DEFAULT 0,
    "pageSize" INTEGER NOT NULL,
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "ScoreRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CustomerScore_model_probability_customerId_idx" ON "CustomerScore"("model", "probability", "customerId");

-- CreateIndex
CREATE INDEX "CustomerScore_model_segment_probability_customerId_idx" ON "CustomerScore"("model", "segment", "probability", "customerId");

-- CreateIndex
CREATE INDEX "ScoreRun_model_modelVersion_asOf_id_idx" ON "ScoreRun"("model", "modelVersion", "asOf", "id");

-- AddForeignKey
ALTER TABLE "CustomerScore" ADD CONSTRAINT "CustomerScore_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE CASCADE ON UPDATE CASCADE;
