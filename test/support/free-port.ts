import net from 'node:net';

/** A loopback port that was free a moment ago; callers that spawn a server on it retry on EADDRINUSE. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A loopback port that refuses connections and stays so: below the ephemeral range, so no server of a concurrent
 * test (they all listen on port 0) can take it between this check and its use, as one may a freePort().
 */
export async function refusedPort(): Promise<number> {
  for (let port = 1; port < 1024; port += 1) {
    if (await refuses(port)) return port;
  }
  throw new Error('every port below 1024 on 127.0.0.1 accepts connections');
}

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}
