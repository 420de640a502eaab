// Renders GraphiQL into #graphiql. The page names the endpoint in data attributes, so that it
// needs no inline script: its policy allows scripts from Lectern's own origin only.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var endpoint = root.getAttribute("data-endpoint");
  var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: scheme + window.location.host + endpoint,
  });
  var defaultQuery = [
    "# Lectern's GraphQL API.",
    "# Run: the pink button, or Ctrl-Enter.",
    "# Every type and field: Docs, top left.",
    "# Drafts and writes need a token:",
    "# under Headers, add",
    '# {"Authorization": "Bearer TOKEN"}',
    "{",
    "  talks(first: 5) {",
    "    totalCount",
    "    nodes { slug title date event location }",
    "  }",
    "}",
    "",
  ].join("\n");
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: true,
    })
  );
})();
