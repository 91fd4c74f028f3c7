// Writes Arrow IPC fixtures with the official Apache Arrow JavaScript package (apache-arrow, pinned in
// package-lock.json), an Arrow implementation that is not cubatch's, and dumps what that package reads back
// from each file as JSON, so the Java tests compare cubatch's reading with Arrow JS's.
//   node make-fixtures.mjs OUT_DIR
// Writes OUT_DIR/<name>.arrow for each fixture and OUT_DIR/expected.json:
//   {"<name>.arrow": {"format": "stream"|"file", "batches": n, "columns": [...],
//                     "rows": {"<column>": [[...] or null, ...]}}}
// Int64 values are written to JSON as decimal strings (JSON numbers lose precision past 2^53).
import { writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  Field, Int8, Int32, Int64, Float32, List, RecordBatch, Table, Utf8, tableFromIPC, tableToIPC, vectorFromArray,
} from 'apache-arrow';

const out = process.argv[2];
if (!out) {
  console.error('usage: node make-fixtures.mjs OUT_DIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const listOf = (type) => new List(new Field('item', type, false));

// rows of input_ids per record batch: several batches, an empty list in the first and in its own batch
const batches = [
  [[101, 7592, 2088, 102], [], [101, 102], [-5, 2147483647, -2147483648]],
  [[1]],
  [[]],
  [[3, 1, 4, 1, 5, 9, 2, 6], [5, 3, 5], [8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3]],
];

function recordBatch(rows, offset) {
  return new RecordBatch({
    input_ids: vectorFromArray(rows, listOf(new Int32())),
    labels: vectorFromArray(rows.map((r) => r.map((v) => BigInt(v) * 3000000000n)), listOf(new Int64())),
    attention_mask: vectorFromArray(rows.map((r) => r.map(() => 1)), listOf(new Int8())),
    scores: vectorFromArray(rows.map((r) => r.map((v) => v / 4)), listOf(new Float32())),
    text: vectorFromArray(rows.map((r, i) => `row ${offset + i}`), new Utf8()),
  });
}

function table(rowBatches) {
  let offset = 0;
  return new Table(rowBatches.map((rows) => {
    const b = recordBatch(rows, offset);
    offset += rows.length;
    return b;
  }));
}

const fixtures = {
  'tokens.stream.arrow': { format: 'stream', table: table(batches) },
  'tokens.file.arrow': { format: 'file', table: table(batches) },
  'one_batch.stream.arrow': { format: 'stream', table: table([batches[0]]) },
  'nulls.stream.arrow': {
    format: 'stream',
    table: new Table([new RecordBatch({
      input_ids: vectorFromArray([[1, 2], null, [3]], listOf(new Int32())),
    })]),
  },
};

const json = (v) => (typeof v === 'bigint' ? v.toString() : v);
const expected = {};
for (const [name, { format, table: t }] of Object.entries(fixtures)) {
  const path = join(out, name);
  writeFileSync(path, tableToIPC(t, format));
  const back = tableFromIPC(readFileSync(path));   // Arrow JS's own reading of the file it wrote
  const rows = {};
  for (const field of back.schema.fields) {
    const column = back.getChild(field.name);
    rows[field.name] = [];
    for (let i = 0; i < back.numRows; i++) {
      const v = column.get(i);
      rows[field.name].push(v === null ? null : typeof v === 'string' ? v : Array.from(v, json));
    }
  }
  expected[name] = {
    format,
    batches: back.batches.length,
    columns: back.schema.fields.map((f) => `${f.name}: ${f.type}`),
    rows,
  };
}
writeFileSync(join(out, 'expected.json'), JSON.stringify(expected, null, 1));
console.log(`arrow-js ${JSON.parse(readFileSync(new URL('./node_modules/apache-arrow/package.json', import.meta.url))).version}: wrote ${Object.keys(fixtures).length} fixtures to ${out}`);
