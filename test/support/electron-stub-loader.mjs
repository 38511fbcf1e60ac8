// A Node module-loader hook for the packaging check: `electron` resolves to a stand-in whose every export is a
// callable, endlessly chainable stub (app.whenReady() never settles), so main's bundle can be imported in plain
// Node to prove that every module it bundles or requires evaluates. The names to export come from
// M2_ELECTRON_STUB_EXPORTS (comma-separated), read off the bundle's `import { … } from "electron"`.
const names = (process.env.M2_ELECTRON_STUB_EXPORTS ?? '').split(',').filter(Boolean);
const source = `
const handler = {
  get: (_t, key) => (key === 'then' ? undefined : key === 'whenReady' ? () => new Promise(() => {}) : stub),
  apply: () => stub,
  construct: () => stub,
};
const stub = new Proxy(function electronStub() {}, handler);
export default stub;
${names.map((n) => `export const ${n} = stub;`).join('\n')}
`;
export async function resolve(specifier, context, next) {
  if (specifier === 'electron') return { url: 'm2-stub:electron', shortCircuit: true };
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url === 'm2-stub:electron') return { format: 'module', source, shortCircuit: true };
  return next(url, context);
}
