// Validates AsyncAPI documents with the official parser (@asyncapi/parser).
// Usage: node validate.mjs FILE...  Exit code 1 if any document has an error.
import { readFile } from 'node:fs/promises';
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await fromFile(parser, file).parse();
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning);
  for (const d of diagnostics) {
    const level = ['error', 'warning', 'info', 'hint'][d.severity] ?? 'note';
    console.log(`${file}: ${level}: ${d.message} at ${d.path.join('.')} (${d.code})`);
  }
  if (errors.length > 0 || !document) {
    failed = true;
    console.log(`${file}: INVALID (${errors.length} error(s), ${warnings.length} warning(s))`);
  } else {
    const messages = document.allMessages().length;
    console.log(`${file}: valid AsyncAPI ${document.version()}: ${document.allChannels().length} channel(s), ${messages} message(s), ${warnings.length} warning(s)`);
  }
}
process.exit(failed ? 1 : 0);
