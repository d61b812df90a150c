// SPDX-License-Identifier: Apache-2.0
//
// Strict, offline validation of Kubernetes manifests against the API types of
// kubernetes-models (generated from the Kubernetes OpenAPI document; 5.1.0
// knows hostUsers, fsGroupChangePolicy, Indexed Jobs with
// backoffLimitPerIndex). Two checks per YAML document:
//
//   1. kubernetes-models' own JSON-schema validator (types, enums, formats,
//      required fields). It allows unknown fields, as the OpenAPI schema does.
//   2. unknown fields: the document becomes a TypeScript object literal typed
//      with the model's interface (IJob, IDaemonSet, ...) and is type-checked;
//      TypeScript rejects excess properties at every depth, which is what
//      `kubectl apply --validate=strict` does on a live cluster.
//
// Usage:
//   node validate.mjs                 every *.yaml/*.yml under deploy/ (this
//                                     directory excluded), multi-document files too
//   node validate.mjs FILE...         those files
//   node validate.mjs --self-test     the fixtures/ files, each of which says
//                                     what it must give ("# expect: ok" or
//                                     "# expect: error TEXT")
// Prints one line per document and closes with "N passed, N failed"; exits 1
// if anything failed.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const deployDir = resolve(here, "..");
const repoRoot = resolve(deployDir, "..");

/* ---- finding files ---- */

function yamlFilesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (p === here || name === "node_modules" || name.startsWith(".")) continue;
    const st = statSync(p);
    if (st.isDirectory()) out.push(...yamlFilesUnder(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

/* ---- YAML ---- */

// kubectl reads YAML 1.1 (go-yaml v2): "yes"/"on" are booleans there too.
function parseDocs(text) {
  const docs = [];
  for (const d of parseAllDocuments(text, { version: "1.1", uniqueKeys: true, prettyErrors: true })) {
    const problems = [...d.errors, ...d.warnings].map((e) => e.message.split("\n")[0]);
    const value = problems.length ? undefined : d.toJS({ maxAliasCount: 100 });
    // an empty document (a trailing "---") is no object
    if (!problems.length && (value === null || value === undefined)) continue;
    docs.push({ value, problems });
  }
  return docs;
}

/* ---- the model of a document ---- */

// apiVersion "batch/v1" -> "kubernetes-models/batch/v1/Job", "v1" -> "kubernetes-models/v1/Pod"
function modelSpecifier(doc) {
  const { apiVersion, kind } = doc;
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Z][A-Za-z0-9]*$/.test(kind))
    return null;
  if (!/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion)) return null;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

async function loadModel(spec, kind) {
  try {
    const mod = await import(spec);
    return typeof mod[kind] === "function" ? mod[kind] : null;
  } catch {
    return null;
  }
}

/* ---- check 1: the model's JSON schema ---- */

function schemaErrors(Model, doc) {
  try {
    new Model(structuredClone(doc)).validate();
    return [];
  } catch (e) {
    return String(e.message || e)
      .split(/,\s*(?=data)/)
      .map((m) => m.replace(/^data\/?/, "/").trim());
  }
}

/* ---- check 2: unknown fields, through TypeScript ---- */

// Serializes v as a TypeScript literal, one property per line, and records
// the YAML path of every line so that a diagnostic points at the field.
function literal(v, path, indent, prefix, suffix, lines) {
  const push = (text) => lines.push({ text: indent + text, path });
  if (Array.isArray(v)) {
    if (!v.length) return push(`${prefix}[]${suffix}`);
    push(`${prefix}[`);
    v.forEach((x, i) => literal(x, `${path}[${i}]`, indent + "  ", "", i + 1 < v.length ? "," : "", lines));
    push(`]${suffix}`);
  } else if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (!keys.length) return push(`${prefix}{}${suffix}`);
    push(`${prefix}{`);
    keys.forEach((k, i) =>
      literal(v[k], path ? `${path}.${k}` : k, indent + "  ", `${JSON.stringify(k)}: `, i + 1 < keys.length ? "," : "", lines),
    );
    push(`}${suffix}`);
  } else {
    push(`${prefix}${JSON.stringify(v === undefined ? null : v)}${suffix}`);
  }
}

const tsOptions = {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  types: [],
};

// items: [{spec, kind, value}] -> array (same order) of arrays of messages
function typeErrors(items) {
  const files = new Map(); // virtual file name -> {text, lines, index}
  items.forEach((it, index) => {
    const lines = [];
    literal(it.value, "", "", "", ";", lines);
    const head = [
      `import type { I${it.kind} as T } from ${JSON.stringify(it.spec)};`,
      "export const doc: T =",
    ];
    const name = join(here, `__validate_doc_${index}.ts`);
    files.set(name, { text: head.join("\n") + "\n" + lines.map((l) => l.text).join("\n") + "\n", lines, head: head.length, index });
  });
  const host = ts.createCompilerHost(tsOptions);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    files.has(name) ? ts.createSourceFile(name, files.get(name).text, lang) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (files.has(name) ? files.get(name).text : readFile(name));

  const program = ts.createProgram([...files.keys()], tsOptions, host);
  const checker = program.getTypeChecker();
  const out = items.map(() => []);
  const pathAt = (f, sf, pos) => {
    const l = f.lines[sf.getLineAndCharacterOfPosition(pos).line - f.head];
    return l && l.path ? l.path : "";
  };
  // Every unknown field, not only the first TypeScript reports per object.
  for (const [name, f] of files) {
    const sf = program.getSourceFile(name);
    const visit = (node) => {
      if (ts.isObjectLiteralExpression(node)) {
        const ctx = checker.getContextualType(node);
        const types = ctx ? (ctx.isUnion() ? ctx.types : [ctx]) : [];
        const objs = types.filter((t) => t.flags & ts.TypeFlags.Object);
        const open = objs.some((t) => t.getStringIndexType());
        for (const p of node.properties) {
          const key = p.name && ts.isStringLiteral(p.name) ? p.name.text : null;
          if (key === null || open || !objs.length) continue;
          if (!objs.some((t) => checker.getPropertyOfType(t, key))) {
            const where = pathAt(f, sf, p.getStart(sf));
            const type = objs.map((t) => checker.typeToString(t)).join(" | ");
            out[f.index].push(`${where}: unknown field "${key}" (not in ${type})`);
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  // excess-property diagnostics are the walk's findings again
  const excess = new Set([2353, 2561]);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (excess.has(d.code)) continue;
    const f = d.file && files.get(d.file.fileName);
    const msg = ts.flattenDiagnosticMessageText(d.messageText, " ");
    if (!f) {
      out.forEach((o) => o.push(`validator: ${msg}`));
      continue;
    }
    const where = pathAt(f, d.file, d.start ?? 0);
    out[f.index].push(`${where ? where + ": " : ""}${msg}`);
  }
  return out;
}

/* ---- one file ---- */

async function checkFile(file) {
  const rel = relative(repoRoot, file);
  const results = []; // {where, problems}
  let docs;
  try {
    docs = parseDocs(readFileSync(file, "utf8"));
  } catch (e) {
    return [{ where: rel, problems: [String(e.message || e)] }];
  }
  const typed = [];
  for (const [i, d] of docs.entries()) {
    const where = `${rel}[${i}]`;
    const r = { where, problems: [...d.problems] };
    results.push(r);
    if (r.problems.length) continue;
    const doc = d.value;
    if (typeof doc !== "object" || Array.isArray(doc)) {
      r.problems.push("not a Kubernetes object (a mapping with apiVersion and kind)");
      continue;
    }
    r.where += ` ${doc.apiVersion}/${doc.kind} ${doc.metadata?.name ?? "?"}`;
    const spec = modelSpecifier(doc);
    const Model = spec && (await loadModel(spec, doc.kind));
    if (!Model) {
      r.problems.push(`unknown apiVersion/kind '${doc.apiVersion}' '${doc.kind}' (not in kubernetes-models)`);
      continue;
    }
    if (typeof doc.metadata?.name !== "string" || !doc.metadata.name) {
      if (typeof doc.metadata?.generateName !== "string") r.problems.push("metadata.name is missing");
    }
    r.problems.push(...schemaErrors(Model, doc));
    typed.push({ spec, kind: doc.kind, value: doc, result: r });
  }
  if (typed.length) typeErrors(typed).forEach((errs, i) => typed[i].result.problems.push(...errs));
  return results;
}

/* ---- main ---- */

function report(results) {
  let passed = 0,
    failed = 0;
  for (const r of results) {
    if (r.problems.length) {
      failed++;
      console.log(`FAIL ${r.where}`);
      for (const p of r.problems) console.log(`       ${p}`);
    } else {
      passed++;
      console.log(`ok   ${r.where}`);
    }
  }
  return { passed, failed };
}

async function selfTest() {
  const dir = join(here, "fixtures");
  let passed = 0,
    failed = 0;
  for (const name of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
    const file = join(dir, name);
    const expects = [...readFileSync(file, "utf8").matchAll(/^# expect: (ok|error (.+))$/gm)];
    if (!expects.length) {
      console.log(`FAIL fixtures/${name}: no "# expect:" line`);
      failed++;
      continue;
    }
    const results = await checkFile(file);
    const text = results.flatMap((r) => r.problems.map((p) => `${r.where}: ${p}`)).join("\n");
    for (const m of expects) {
      const ok = m[1] === "ok" ? text === "" && results.length > 0 : text.includes(m[2]);
      const want = m[1] === "ok" ? "valid" : `an error naming '${m[2]}'`;
      if (ok) {
        passed++;
        const line = m[1] === "ok" ? "" : text.split("\n").find((l) => l.includes(m[2]));
        console.log(`ok   fixtures/${name}: ${m[1] === "ok" ? "valid, as it must be" : `rejected: ${line.replace(/^\S+ /, "")}`}`);
      } else {
        failed++;
        console.log(`FAIL fixtures/${name}: want ${want}, got: ${text || "valid"}`);
      }
    }
  }
  return { passed, failed };
}

const args = process.argv.slice(2);
let sum;
if (args[0] === "--self-test") {
  sum = await selfTest();
} else {
  const files = args.length ? args.map((a) => resolve(a)) : yamlFilesUnder(deployDir);
  if (!files.length) {
    console.log("validate: no YAML files found");
    process.exit(1);
  }
  const results = [];
  for (const f of files) results.push(...(await checkFile(f)));
  sum = report(results);
}
console.log(`${sum.passed} passed, ${sum.failed} failed`);
process.exit(sum.failed || !sum.passed ? 1 : 0);
