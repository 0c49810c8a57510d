// A GraphQL over WebSocket server built on the graphql-ws library (protocol graphql-transport-ws),
// for authbench's live first-message authentication test. Everything protocol-related — the
// subprotocol check (4406), the connection_init wait (4408), connection_ack, Forbidden (4403),
// too many inits (4429) — is the library's; the glue below only decides whether a token is ours:
// it asks the authbench mock's RFC 7662 introspection endpoint (POST /oauth/introspect with the
// admin key) whether `payload.authorization` ("Bearer <token>") is active.
//
// Environment: MOCK_URL (http://127.0.0.1:PORT), ADMIN_KEY (the mock's admin key).
// Prints "graphql-ws listening on 127.0.0.1:<port>" once it listens (port 0: a free one).
import { createServer } from "node:http";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { buildSchema } from "graphql";

const mockUrl = process.env.MOCK_URL;
const adminKey = process.env.ADMIN_KEY;
if (!mockUrl || !adminKey) {
  console.error("server.mjs: set MOCK_URL and ADMIN_KEY");
  process.exit(2);
}

const schema = buildSchema(`
  type Query { hello: String }
  type Subscription { ticks: Int }
`);
const roots = {
  query: { hello: () => "world" },
  subscription: {
    ticks: async function* () {
      for (let i = 1; ; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        yield { ticks: i };
      }
    },
  },
};

// Whether the mock says the access token is active (RFC 7662).
async function active(token) {
  if (typeof token !== "string" || token.length === 0) return false;
  const res = await fetch(`${mockUrl}/oauth/introspect`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${adminKey}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ token, token_type_hint: "access_token" }),
  });
  if (!res.ok) return false;
  const body = await res.json();
  return body.active === true;
}

const http = createServer((_req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server: http, path: "/graphql" });
useServer(
  {
    schema,
    roots,
    onConnect: async (ctx) => {
      const auth = ctx.connectionParams?.authorization;
      const token = typeof auth === "string" ? auth.replace(/^Bearer /, "") : undefined;
      return await active(token);
    },
  },
  wss,
);

http.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`graphql-ws listening on 127.0.0.1:${http.address().port}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    wss.close();
    http.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
