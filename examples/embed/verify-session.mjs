// The embedding site's backend: serves index.html and turns a qrgate session JWT into its own session.
// Run: GATEWAY_URL=https://login.example.com SITE_ORIGIN=https://shop.example.com PORT=8080 node verify-session.mjs
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const gateway = (process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
// Fetched once, cached, and refetched when a token names an unknown key (key rotation).
const jwks = createRemoteJWKSet(new URL(`${gateway}/.well-known/jwks.json`));
const port = Number(process.env.PORT ?? 8080);
// The gateway issues each token for the site that began the login (`aud` = its origin): accept only ours, so a
// token made for another site on the same gateway (or stolen by an XSS there) opens no session here.
const audience = (process.env.SITE_ORIGIN ?? `http://localhost:${port}`).replace(/\/+$/, '');
const page = (await readFile(new URL('./index.html', import.meta.url), 'utf8')).replaceAll('https://login.example.com', gateway);

const server = createServer(async (req, res) => {
  if (req.method === 'POST' && req.url === '/session') {
    let body = '';
    for await (const chunk of req) body += chunk;
    try {
      const { token } = JSON.parse(body);
      const { payload } = await jwtVerify(token, jwks, { audience, issuer: gateway });
      // Here a real site would start its own session for payload.sub (the WeChat openid).
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ openid: payload.sub }));
    } catch {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid session token"}');
    }
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
});
server.listen(port, () => console.log(`embed example on http://localhost:${server.address().port}`));
