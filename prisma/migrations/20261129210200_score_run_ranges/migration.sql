-- Distributed batch scoring (npm run score -- --workers N): a run split into id ranges, one BullMQ job each.
-- AlterTable
ALTER TABLE "ScoreRun" ADD COLUMN "ranges" INTEGER;

-- CreateTable
CREATE TABLE "ScoreRunRange" (
    "runId" INTEGER NOT NULL,
    "index" INTEGER NOT NULL,
    "fromId" UUID,
    "toId" UUID,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "lastCustomerId" UUID,
    "customersScored" INTEGER NOT NULL DEFAULT 0,
    "pages" INTEGER NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ScoreRunRange_pkey" PRIMARY KEY ("runId","index")
);

-- AddForeignKey
ALTER TABLE "ScoreRunRange" ADD CONSTRAINT "ScoreRunRange_runId_fkey" FOREIGN KEY ("runId") REFERENCES "ScoreRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;
