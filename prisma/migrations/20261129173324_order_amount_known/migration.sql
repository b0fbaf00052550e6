-- AlterTable
ALTER TABLE "Order" ADD COLUMN     "amountKnown" BOOLEAN NOT NULL DEFAULT true;
