// Streams the synthetic demo set to DIR/customers.csv and DIR/orders.csv (format: src/ingest/format.ts).
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { CUSTOMER_HEADER, ORDER_HEADER, customerCsvLine, orderCsvLine } from '../ingest/format.js';
import { generateCustomers, type GeneratorOptions } from './generator.js';

export interface ExportSummary {
  customers: number;
  orders: number;
  customersFile: string;
  ordersFile: string;
  seconds: number;
}

class BufferedWriter {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly stream: WriteStream, private readonly limit = 1 << 20) {}
  async write(s: string) {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= this.limit) await this.flush();
  }
  async flush() {
    if (this.parts.length === 0) return;
    const ok = this.stream.write(this.parts.join(''));
    this.parts = [];
    this.size = 0;
    if (!ok) await once(this.stream, 'drain');
  }
  async end() {
    await this.flush();
    this.stream.end();
    await once(this.stream, 'finish');
  }
}

export async function exportDemoCsv(
  options: GeneratorOptions & { outDir: string; onProgress?: (customersDone: number) => void },
): Promise<ExportSummary> {
  const started = performance.now();
  await mkdir(options.outDir, { recursive: true });
  const customersFile = path.join(options.outDir, 'customers.csv');
  const ordersFile = path.join(options.outDir, 'orders.csv');
  const cw = new BufferedWriter(createWriteStream(customersFile));
  const ow = new BufferedWriter(createWriteStream(ordersFile));
  await cw.write(CUSTOMER_HEADER);
  await ow.write(ORDER_HEADER);
  let customers = 0;
  let orders = 0;
  for (const c of generateCustomers(options)) {
    await cw.write(customerCsvLine(c));
    for (const o of c.orders) await ow.write(orderCsvLine(o));
    customers += 1;
    orders += c.orders.length;
    if (customers % 10_000 === 0) options.onProgress?.(customers);
  }
  await cw.end();
  await ow.end();
  return { customers, orders, customersFile, ordersFile, seconds: (performance.now() - started) / 1000 };
}
