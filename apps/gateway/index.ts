export { createGateway, type Gateway, type GatewayDeps } from './gateway.js';
export { gatewaySettings, type GatewaySettings } from './gateway-settings.js';
export { createSessionSigner, type SessionSigner } from './session-signer.js';
export type { QrCodeIssuer } from './ticket-issuer.js';
export { createGatewayFromConfig, type GatewayFromConfigOptions } from './gateway-from-config.js';
