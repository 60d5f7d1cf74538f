// GraphiQL for the portal's API: the signed-in session (with its CSRF token) or a Bearer token set
// in the headers editor. Kept out of the page itself: the CSP allows no inline scripts.
(function () {
  const root = document.getElementById("graphiql");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
  const fetcher = GraphiQL.createFetcher({
    url: root.dataset.endpoint,
    headers: csrf ? { "X-CSRFToken": csrf.value } : {},
  });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true, isHeadersEditorEnabled: true })
  );
})();
