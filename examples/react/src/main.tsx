/**
 * The React example's page: the QR login until the phone confirms, then who signed in. A real site would
 * POST `token` to its backend and verify it against the gateway's JWKS (examples/embed/verify-session.mjs).
 */
import type { QrLoginResult } from '@qrgate/client';
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { QrLogin } from './QrLogin.js';

/** The gateway's origin, fixed at build time (build.mjs, QRGATE_URL). */
declare const QRGATE_URL: string;

function App() {
  const [session, setSession] = useState<QrLoginResult | null>(null);
  return (
    <main>
      <h1>Sign in with WeChat</h1>
      {session === null ? (
        <QrLogin gatewayUrl={QRGATE_URL} onLogin={setSession} />
      ) : (
        <p className="signed-in" data-openid={session.openid}>
          Signed in as {session.openid}
        </p>
      )}
    </main>
  );
}

const root = document.getElementById('root');
if (root === null) throw new Error('no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
