// Parses each file named on the command line with Mermaid's own parser (mermaid.parse, the one
// its renderer uses), in a jsdom window since Mermaid expects a browser. Prints
// `ok FILE TYPE` or `FAIL FILE: the parse error` per file; exits 1 if any failed.
import fs from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    const parsed = await mermaid.parse(fs.readFileSync(file, 'utf8'));
    console.log(`ok ${file} ${parsed.diagramType}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${file}: ${String(e.message || e).split('\n').join(' ')}`);
  }
}
process.exit(failed ? 1 : 0);
