/**
 * A React component around @qrgate/client: the widget renders into a div React leaves alone, the SDK's
 * state is mirrored for the component's own markup, and unmounting calls `destroy()` (socket, timers and
 * DOM gone), so React's StrictMode double mount and route changes leave nothing behind.
 */
import { createQrLogin, type QrLoginResult, type QrLoginState } from '@qrgate/client';
import { useEffect, useRef, useState } from 'react';

export interface QrLoginProps {
  /** The gateway's origin. */
  gatewayUrl: string;
  onLogin(result: QrLoginResult): void;
}

export function QrLogin({ gatewayUrl, onLogin }: QrLoginProps) {
  const container = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<QrLoginState['state']>('connecting');
  // The latest callback without re-creating the login (which would show a new QR code) on every render.
  const latestOnLogin = useRef(onLogin);
  latestOnLogin.current = onLogin;

  useEffect(() => {
    if (container.current === null) return;
    const login = createQrLogin({
      url: gatewayUrl,
      container: container.current,
      onStateChange: (next) => setState(next.state),
      onLogin: (result) => latestOnLogin.current(result),
    });
    return () => login.destroy();
  }, [gatewayUrl]);

  return <div className="qr-login" data-sdk-state={state} ref={container} />;
}
