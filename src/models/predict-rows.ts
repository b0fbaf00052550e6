// Runs one model version's ONNX file on rows given as JSON, with the runtime the API serves it with
// (onnxruntime-node, the same feeds as src/inference/tensors.ts), and writes the class probabilities
// as JSON. Used by python-export/card_evaluation.py to evaluate a shipped model.onnx without
// retraining it or changing the file.
//
//   node --import tsx src/models/predict-rows.ts <models/<name>/<version>> <rows.json> <out.json>
//
// rows.json: { "features": [[number | null, …], …], "sequences"?: [[[number × T], …], …] } — null is
// a missing feature (NaN); a sequence lists a row's real order tokens (no padding).
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { feedLayout, type ModelCard } from '../inference/registry.js';
import { buildFeeds, splitProbabilities, type ModelRow } from '../inference/tensors.js';

const CHUNK = 1024;

async function main() {
  const [dir, rowsFile, outFile] = process.argv.slice(2);
  if (!dir || !rowsFile || !outFile) throw new Error('usage: predict-rows.ts <model version folder> <rows.json> <out.json>');
  const card = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as ModelCard;
  const bytes = await readFile(path.join(dir, card.onnx.file));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== card.onnx.sha256) throw new Error(`${dir}: model.onnx sha256 ${sha256} differs from the card's ${card.onnx.sha256}`);
  const input = JSON.parse(await readFile(rowsFile, 'utf8')) as { features: (number | null)[][]; sequences?: number[][][] };
  const layout = feedLayout(card);
  const featureCount = layout.featureCount;
  const rows: ModelRow[] = input.features.map((f, i) => {
    if (f.length !== featureCount) throw new Error(`row ${i}: ${f.length} features, the card lists ${featureCount}`);
    const row: ModelRow = { features: Float64Array.from(f, (v) => (v === null ? NaN : v)) };
    if (layout.sequence) {
      const tokens = input.sequences?.[i] ?? [];
      row.sequence = Float32Array.from(tokens.flat());
      row.sequenceLength = tokens.length;
    }
    return row;
  });
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  const classes = card.classes.length;
  const probabilities: number[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) {
    const part = rows.slice(i, i + CHUNK);
    const out = await session.run(buildFeeds(layout, part));
    for (const p of splitProbabilities(out.probabilities!, part.length, classes)) probabilities.push(Array.from(p));
  }
  await session.release();
  await writeFile(outFile, JSON.stringify({ model: card.name, version: card.version, sha256, runtime: `onnxruntime-node ${ort.env.versions.common}`, probabilities }));
}

main().catch((err: Error) => {
  console.error(`predict-rows: ${err.message}`);
  process.exit(1);
});
