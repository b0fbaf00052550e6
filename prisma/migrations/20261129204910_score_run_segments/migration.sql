-- CreateTable
CREATE TABLE "ScoreRunSegment" (
    "runId" INTEGER NOT NULL,
    "segment" TEXT NOT NULL,
    "count" INTEGER NOT NULL,
    "meanProbability" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "ScoreRunSegment_pkey" PRIMARY KEY ("runId","segment")
);

-- AddForeignKey
ALTER TABLE "ScoreRunSegment" ADD CONSTRAINT "ScoreRunSegment_runId_fkey" FOREIGN KEY ("runId") REFERENCES "ScoreRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Backfill: a finished run whose scores are all still stored (none overwritten by a later run) has
-- its mix in "CustomerScore"; older runs keep no mix (the API says so: segments = null).
INSERT INTO "ScoreRunSegment" ("runId", "segment", "count", "meanProbability")
SELECT cs."runId", cs."segment", count(*)::int, avg(cs."probability")
FROM "CustomerScore" cs
JOIN "ScoreRun" r ON r."id" = cs."runId"
WHERE r."status" = 'finished'
  AND r."customersScored" = (SELECT count(*) FROM "CustomerScore" c2 WHERE c2."runId" = r."id")
GROUP BY cs."runId", cs."segment";
