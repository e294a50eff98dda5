// Loaded into every Node process of the EventCatalog build (NODE_OPTIONS=--import): the
// build must need no network. EventCatalog 3.x posts a usage event on each build and has
// no switch to turn that off, so requests to other hosts are refused here (the build
// already ignores their failure), and each refusal is named on standard error.
const localFetch = globalThis.fetch;
const local = new Set(['localhost', '127.0.0.1', '[::1]']);

globalThis.fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (url.protocol === 'file:' || url.protocol === 'data:' || local.has(url.hostname)) {
    return localFetch(input, init);
  }
  console.error(`[factum offline] refused a request to ${url.origin}`);
  throw new TypeError(`offline build: no request to ${url.origin}`);
};
