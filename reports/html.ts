// Markup built only through the `html` tag: every interpolated value is
// escaped unless it is itself markup made by the tag, so a string read
// from a corpus file (a variant name, a message) can never become markup.

export class Markup {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

type Value = Markup | string | number | boolean | null | undefined | readonly Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Markup) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Markup {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Markup(out);
}

// The page shell: no script, no external resource, and a policy that
// would block either if one ever slipped in.
export function page(title: string, style: string, body: Markup): string {
  return `<!DOCTYPE html>
${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${new Markup(style)}</style>
</head>
<body>
${body}
</body>
</html>`}
`;
}

export const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #fff; }
h1 { font-size: 20px; margin: 0 0 6px; word-break: break-word; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #d8dce4; padding-bottom: 4px; }
code, pre, .mono { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 12px; }
pre { background: #f5f6f8; padding: 8px 10px; overflow: auto; margin: 0; white-space: pre-wrap; word-break: break-word; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; }
th { color: #5a6275; font-weight: 600; }
.message { font-size: 15px; background: #fdecec; border-left: 4px solid #c62828; padding: 8px 12px; margin: 10px 0; word-break: break-word; }
.warn { background: #fff4d6; border-left: 4px solid #b58100; padding: 8px 12px; margin: 10px 0; }
.ok { color: #2e7d32; } .bad { color: #c62828; font-weight: 600; } .dim { color: #6b7385; }
.cols { display: flex; gap: 16px; flex-wrap: wrap; } .cols > div { flex: 1 1 380px; min-width: 0; }
.diff .add { color: #1b5e20; background: #e8f5e9; } .diff .del { color: #b71c1c; background: #ffebee; }
.diff span { display: block; white-space: pre-wrap; }
.wide { overflow-x: auto; border: 1px solid #d8dce4; }
.explain { font-size: 15px; margin: 8px 0; }
table.diff td { padding: 1px 8px 1px 0; } td.del { color: #b71c1c; } td.add { color: #1b5e20; }
details > summary { cursor: pointer; color: #0d3c8c; margin: 10px 0; }
@media print { .wide { overflow: visible; border: 0; } svg.swimlane { width: 100%; height: auto; } details:not([open]) { display: none; } }
tr.divergent td { background: #fdecec; }
.nowrap { white-space: nowrap; }
.tag { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; }
.tag.new { background: #c62828; color: #fff; } .tag.known { background: #e3e7ee; }
`;
