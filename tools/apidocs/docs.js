// docs.js - the API reference page at /docs: Swagger UI (built into vault
// from npm's swagger-ui-dist) over vault's own /openapi.json. Everything
// comes from this server: the page's CSP allows nothing else.
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#reference',
  deepLinking: true,
  // Its default checks the document with a validator on the Internet.
  validatorUrl: null,
  tryItOutEnabled: false,
});
