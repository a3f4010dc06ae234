-- POST /users with a username and email unique to this run, thread and request.
local headers = {["Content-Type"] = "application/json"}

function make_request()
  local name = prefix .. "-" .. tid .. "-" .. counter
  local body = string.format(
    '{"username":"%s","email":"%s@example.com","full_name":"Bench User %d","age":%d}',
    name, name, counter, math.random(18, 80))
  return wrk.format("POST", "/users", headers, body)
end

dofile(os.getenv("BENCH_LUA") .. "/common.lua")
