#!/usr/bin/env bash
# Fault: source objects change and disappear between listing and copying:
# six overwritten (one of them the multipart object, same size, new bytes),
# six deleted. They are reported changed / vanished with those reasons and
# are not written (nothing half old, half new); the rest is copied.
FAULT=source_changes
source "$(dirname "$0")/../lib/itest.sh"
source "$FERRY_SRC/tests/lib/faults.sh"

fault_setup
fault_conf
fault_fill small:300:1:8 large:1:12 odd
fault_reset_stats
fault_lister || fail "lister exited $?"

# Between listing and copying.
node -e "
const u=require('$TOOLS/s3util'),fs=require('fs');
const ch=['small/04/obj-000004.bin','small/05/obj-000105.bin','small/17/obj-000217.bin','odd/with space.txt','small/49/obj-000299.bin','large/big-0.bin'];
const gone=['small/06/obj-000006.bin','small/16/obj-000116.bin','small/26/obj-000226.bin','odd/emoji-😀.txt','small/00/obj-000000.bin','small/33/obj-000133.bin'];
(async()=>{
  const snap=new Map(require('$FERRY_RUN/snapshot.json').map(o=>[o.key,o]));
  const want={};
  for(const k of ch){const b=u.bytes(7777+k.length,snap.get(k).size);await u.put('$FERRY_S3_MAIN','$FAULT_SRC_BUCKET',k,b);want[k]='changed';}
  for(const k of gone){const r=await u.del('$FERRY_S3_MAIN','$FAULT_SRC_BUCKET',k);if(r.status!==204)throw new Error('delete '+k+': '+r.status);want[k]='vanished';}
  fs.writeFileSync('$FERRY_RUN/expect.json',JSON.stringify(want));
})().catch(e=>{console.error(e);process.exit(1)})"

fault_worker w1
fault_worker w2
fault_wait 240
fault_check completed-with-failures "$FERRY_RUN/expect.json"
fault_survived "changed=6 vanished=6"
