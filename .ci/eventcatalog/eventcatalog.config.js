// EventCatalog's configuration for the site CI builds from `factum-catalog export
// --eventcatalog` (see build.sh). A team's own EventCatalog project has its own.

/** @type {import('@eventcatalog/core/bin/eventcatalog.config').Config} */
export default {
  title: 'Factum events',
  tagline: 'Events exported from a Factum catalog, every version with its schema.',
  organizationName: 'Factum',
  homepageLink: 'https://example.invalid/',
  output: 'static',
  trailingSlash: false,
  base: '/',
  logo: { alt: 'Factum', text: 'Factum' },
  // EventCatalog writes a random id here when there is none; a fixed one keeps the file
  // unchanged by the build.
  cId: '2a9c3f0e-5b1d-4c7e-9f42-8d6b0e1a7c35',
};
