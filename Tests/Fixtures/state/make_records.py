"""Pushes the records behind state-860d516.json to a lossd aggregate input (see README.md).

usage: python3 make_records.py ENDPOINT
"""
import json, math, random, zmq, sys
random.seed(7)
address = sys.argv[1]
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH); s.setsockopt(zmq.LINGER, 10000); s.connect(address)
params = {"neg_pos_ratio":3,"n_neg_min":0,"alpha":1.0,"mining":"batch","scores":"probabilities"}
def loss(run, split, source, seq, epoch, step, batch, value, cls=None, loc=None):
    rec = {"v":1,"kind":"loss","run":run,"split":split,"source":source,"epoch":epoch,"step":step,"seq":seq,
           "batch":batch,"boxes":128,"classes":6,"loss":value,"classification":cls if cls is not None else (value*0.7 if value is not None else None),
           "localization":loc if loc is not None else (value*0.3 if value is not None else None),
           "per_item":[value]*batch,"positives":3.0+seq%4,"negatives":9+seq%5,"negatives_available":400,"params":params,
           "compute_us":100,"sidecar":"fixture:1"}
    return json.dumps(rec).encode()
msgs = []
# run "exp": rank0 sends seqs 0..299 with a gap at 40..44 and a late 41, a duplicate 7; rank1 sends 0..199 on val
for seq in range(300):
    if 40 <= seq <= 44: continue
    value = 5.0 * math.exp(-seq / 120) + 0.1 * random.random()
    msgs.append(loss("exp", "train", "rank0", seq, seq // 50, seq * 10, 8 if seq % 3 else 4, value))
msgs.append(loss("exp", "train", "rank0", 7, 0, 70, 8, 3.0))        # duplicate
msgs.append(loss("exp", "train", "rank0", 300, 6, 3000, 8, None))   # a non-finite batch (nulls)
for seq in range(0, 200, 1):
    if seq in (100, 150): continue   # stay pending, counted lost at shutdown
    value = 6.0 * math.exp(-seq / 90) + 0.2
    msgs.append(loss("exp", "val", "rank1", seq, seq // 40, seq * 5, 2, value, cls=value*0.6, loc=value*0.4))
for seq in range(201, 206):
    msgs.append(json.dumps({"v":1,"kind":"error","code":"nonfinite","error":"fixture","run":"exp","split":"val","source":"rank1","seq":seq,
                            "details":{"nonfinite":{"y_pred":3,"y_true":0}}}).encode())
msgs.append(json.dumps({"v":1,"kind":"error","code":"bad_header","error":"fixture"}).encode())
msgs.append(json.dumps({"v":1,"kind":"error","code":"bad_frames","error":"fixture","run":"other","split":"train","source":"s"}).encode())
msgs.append(b"not a record")
for seq in range(20):   # a second run without seqs' gaps, with infinity in localization via null
    msgs.append(loss("other", "train", "s", seq, None, None, 1, 1.0 + seq))
for m in msgs: s.send(m)
s.close(); ctx.term()
print(len(msgs))
