export { BEFORE_METHOD, OTHER_METHODS, OTHER_PATHS, buildOpenApiDocument, openApiJson, OPENAPI_VERSION } from './document';
export { OPERATIONS, TAGS, type Answer, type Auth, type HttpMethod, type Operation } from './operations';
