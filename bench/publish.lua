-- wrk script for bench/http.py: POST /api/v1/events with a unique client id in every event.
-- Arguments (after --): size (1 = one event per request, else a batch), template file (an
-- event whose "id" is __ID__), run tag, API key.
-- Each id is <tag>-<thread>-<counter>. Every 201 reply's "accepted" count is added up, and
-- the requests sent but never answered (in flight when wrk stops) are counted, so the events
-- stored can be checked against the events acknowledged.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local prefix, suffix, size, tag
local counter = 0

function init(args)
  size = tonumber(args[1])
  local file = assert(io.open(args[2], "rb"))
  local template = file:read("*a")
  file:close()
  local at = assert(string.find(template, "__ID__", 1, true), "template has no __ID__")
  prefix = string.sub(template, 1, at - 1)
  suffix = string.sub(template, at + 6)
  tag = args[3]
  wrk.method = "POST"
  wrk.path = "/api/v1/events"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[4]
  sent, answered, created, accepted, other, first_other = 0, 0, 0, 0, 0, ""
end

local function event()
  counter = counter + 1
  return prefix .. tag .. "-" .. tid .. "-" .. counter .. suffix
end

function request()
  local body
  if size == 1 then
    body = event()
  else
    local parts = {}
    for i = 1, size do
      parts[i] = event()
    end
    body = '{"events":[' .. table.concat(parts, ",") .. "]}"
  end
  sent = sent + 1
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  answered = answered + 1
  if status == 201 then
    created = created + 1
    accepted = accepted + (tonumber(string.match(body, '"accepted":%s*(%d+)')) or 0)
  else
    other = other + 1
    if first_other == "" then
      first_other = status .. " " .. string.sub(body, 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local t = { sent = 0, answered = 0, created = 0, accepted = 0, other = 0 }
  local sample = ""
  for _, thread in ipairs(threads) do
    for name, _ in pairs(t) do
      t[name] = t[name] + thread:get(name)
    end
    if sample == "" then
      sample = thread:get("first_other")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-WRK {"duration_us":%d,"requests":%d,"sent":%d,"answered":%d,"created":%d,' ..
    '"accepted":%d,"other":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"sample_other":"%s"}\n',
    summary.duration, summary.requests, t.sent, t.answered, t.created, t.accepted, t.other,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    (string.gsub(sample, '[%c"\\]', " "))))
end
