// Starts Swagger UI on the docs page (common/docs.py). A file rather than an inline <script>:
// the gateway's Content-Security-Policy runs scripts from the site itself only.
"use strict";

const root = document.getElementById("swagger-ui");

window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  // FastAPI's defaults (fastapi.openapi.docs.swagger_ui_default_parameters).
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  // No badge from the public validator: the page loads nothing from elsewhere.
  validatorUrl: null,
});
