package redisstore

import "github.com/redis/go-redis/v9"

// luaHelpers are shared by the scripts. owner reads the user ID of an
// envelope (see value.go) exactly as ownerOf does; nowms is the server's
// clock; extend pushes a key's expiry to at least at (Unix ms).
const luaHelpers = `
local function owner(v)
  if not v or #v < 19 or string.byte(v, 1) ~= 1 then return '' end
  local n = string.byte(v, 18) * 256 + string.byte(v, 19)
  if n > 1024 or #v < 19 + n then return '' end
  return string.sub(v, 20, 19 + n)
end
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function extend(k, at)
  local ttl = redis.call('PTTL', k)
  if ttl < 0 or nowms() + ttl < tonumber(at) then
    redis.call('PEXPIREAT', k, at)
  end
end
`

// putScript writes or deletes one record, conditionally.
//
// KEYS[1] is the record. With indexed = '1' (single-slot mode) KEYS[2] is
// the index of the declared old owner when there is one, and the last key is
// the index of the new owner when the new record has one (the same key
// serves both when the owners are equal).
//
// ARGV: check ('t' write ID, 'o' owner, '-' none), expected (the write ID or
// the owner), value (empty to delete), pxat (expiry, Unix ms), member (the store
// key), new owner, index entry, claimed-at (empty when there is no claim
// to check), window (ms), indexed.
//
// Reply: 1 when written (or when this very value is already there: a resend
// of a write whose reply was lost); 2 when the claim is older than the
// window; otherwise the conflict: the current value ('t') or its header and
// owner ('o'), or 0 when there is no current value.
var putScript = redis.NewScript(luaHelpers + `
local cur = redis.call('GET', KEYS[1])
local check, expected, value = ARGV[1], ARGV[2], ARGV[3]
local pxat, member, newOwner = ARGV[4], ARGV[5], ARGV[6]
if cur and value ~= '' and string.sub(cur, 1, 9) == string.sub(value, 1, 9) then
  return 1
end
local curOwner = owner(cur)
if check == 't' then
  local id = ''
  if cur then id = string.sub(cur, 1, 9) end
  if id ~= expected then
    if cur then return cur end
    return 0
  end
elseif check == 'o' then
  if curOwner ~= '' and curOwner ~= expected then
    return string.sub(cur, 1, 19 + #curOwner)
  end
end
if ARGV[8] ~= '' and value ~= '' then
  if nowms() - tonumber(ARGV[8]) > tonumber(ARGV[9]) then return 2 end
end
if value == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], value, 'PXAT', pxat)
end
if ARGV[10] == '1' then
  if curOwner ~= '' and (value == '' or curOwner ~= newOwner) then
    redis.call('HDEL', KEYS[2], member)
  end
  if value ~= '' and newOwner ~= '' then
    redis.call('HSET', KEYS[#KEYS], member, ARGV[7])
    extend(KEYS[#KEYS], pxat)
  end
end
return 1
`)

// claimScript records, in a user's index (KEYS[1]), that the record under
// ARGV[1] is about to be written for that user: entry ARGV[2], expiring at
// ARGV[3] (Unix ms) at the earliest. Used in split mode, before the record
// write.
var claimScript = redis.NewScript(luaHelpers + `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
extend(KEYS[1], ARGV[3])
return 1
`)

// pruneScript removes entries from a user's index (KEYS[1]): ARGV holds
// member, entry pairs, and a member goes only if its entry is still the one
// given, so an entry written meanwhile by a new claim stays. Replies the
// number removed.
var pruneScript = redis.NewScript(`
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`)
