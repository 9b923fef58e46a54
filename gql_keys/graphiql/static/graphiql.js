// Boots GraphiQL against this server's /graphql: queries and mutations over HTTP,
// subscriptions over its WebSocket. Nothing is kept in the browser's storage: headers
// carry bearer tokens and documents may carry passwords, so GraphiQL's tabs, history
// and headers live in memory and go with the tab.
"use strict";

(function () {
  const endpoint = new URL("/graphql", window.location.href);
  const socket = new URL(endpoint);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  const memory = new Map();
  const storage = {
    getItem: (key) => (memory.has(key) ? memory.get(key) : null),
    setItem: (key, value) => memory.set(key, String(value)),
    removeItem: (key) => memory.delete(key),
    clear: () => memory.clear(),
    get length() {
      return memory.size;
    },
  };

  const defaultQuery = `# gql-keys GraphiQL (development only).
#
# Most operations need a principal: sign in with \`login\` and put its token in the
# Headers tab below as {"Authorization": "Bearer <token>"}. Nothing here is saved
# in the browser: close the tab and it is gone.

{
  __typename
}
`;

  const fetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: socket.href,
  });

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher,
      storage,
      defaultQuery,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    }),
  );
})();
