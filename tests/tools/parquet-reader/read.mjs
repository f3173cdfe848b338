// Reads a Parquet file with hyparquet and prints {"schema": [...], "rows": [...]} as JSON.
// Usage: node read.mjs FILE
import { readFileSync } from 'node:fs';
import { parquetMetadata, parquetSchema, parquetReadObjects } from 'hyparquet';

const bytes = readFileSync(process.argv[2]);
const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
const metadata = parquetMetadata(file);
const schema = parquetSchema(metadata).children.map(c => ({
  name: c.element.name,
  type: c.element.type,
  logical: c.element.logical_type?.type ?? c.element.converted_type ?? null,
}));
const rows = await parquetReadObjects({ file });
console.log(JSON.stringify({ schema, rows }, (_, v) => typeof v === 'bigint' ? Number(v) : v));
