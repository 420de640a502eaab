-- POSTs the GraphQL request in the file named by the environment variable GRAPHQL_BODY.
local file = assert(io.open(os.getenv("GRAPHQL_BODY"), "r"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = file:read("*a")
file:close()
