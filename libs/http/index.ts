/**
 * `libs/http`: the one HTTP edge of qrgate's three Koa apps (gateway, webhook, simulator). Request ids and
 * logging, the error path, probes, bounded body readers and the page shell are written here once, so a fix to
 * any of them lands in every app.
 */
export { httpError, isHttpError, type HttpError, type HttpErrorProps } from './errors.js';
export { errorPath, errorVerdict, type ErrorPathOptions, type ErrorVerdict } from './error-path.js';
export { DEFAULT_QUIET_PATHS, requestIdOf, requestLog, type RequestLogOptions, type RequestLogState } from './request-log.js';
export { READY_TIMEOUT_MS, mountProbes, type ProbeOptions } from './probes.js';
export { BODY_READ_TIMEOUT_MS, readBytes, readForm, readJson, readText, type BodyOptions, type JsonBodyOptions } from './body.js';
export { escapeHtml, sendPage, type PageOptions } from './html.js';
export { DEFAULT_CSP, HSTS_MAX_AGE_SECONDS, securityHeaders, type SecurityHeadersOptions } from './security-headers.js';
