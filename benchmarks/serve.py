"""`make bench-serve`: latency and throughput of the prediction server on loopback.

Starts `python -m serving.server` on the newest pushed model, then, with real
abstracts from the bundled sample: single-abstract requests from 1 and from 8
concurrent clients (p50 / p95 / p99 latency), and batched requests (abstracts per
second). Every phase is bounded by a request count and a time limit.

    python -m benchmarks.serve [--serving-root DIR] [--requests 300] [--seconds 60]
"""

import argparse
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

import numpy as np

from pipeline.config import REPOSITORY_ROOT, SAMPLE_DATA
from pipeline.predict import read_abstracts
from serving.server import ServerSettings


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def start_server(serving_root: str, port: int, max_batch_size: int) -> subprocess.Popen:
  """The server in a process of its own, once it answers its status endpoint."""
  process = subprocess.Popen(
      [sys.executable, '-m', 'serving.server', '--serving-root', serving_root, '--port',
       str(port), '--max-batch-size', str(max_batch_size)],
      cwd=REPOSITORY_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.monotonic() + 120
  while time.monotonic() < deadline:
    if process.poll() is not None:
      raise SystemExit(f'the server exited with {process.returncode}')
    try:
      connection = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
      connection.request('GET', f'/v1/models/{ServerSettings().model_name}')
      if connection.getresponse().status == 200:
        return process
    except OSError:
      pass
    time.sleep(0.5)
  process.kill()
  raise SystemExit('the server did not start within 120 s')


def load(port: int, bodies: List[bytes], clients: int, seconds: float) -> Dict[str, float]:
  """Sends `bodies` from `clients` keep-alive connections; latencies and the elapsed time."""
  path = f'/v1/models/{ServerSettings().model_name}:predict'
  latencies: List[float] = []
  failures: List[str] = []
  next_body = iter(range(len(bodies)))
  lock = threading.Lock()
  deadline = time.monotonic() + seconds

  def client():
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    while time.monotonic() < deadline:
      with lock:
        i = next(next_body, None)
      if i is None:
        break
      started = time.perf_counter()
      connection.request('POST', path, body=bodies[i],
                         headers={'Content-Type': 'application/json'})
      response = connection.getresponse()
      response.read()
      elapsed = time.perf_counter() - started
      with lock:
        (latencies.append(elapsed) if response.status == 200 else
         failures.append(str(response.status)))
    connection.close()

  started = time.perf_counter()
  threads = [threading.Thread(target=client) for _ in range(clients)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  wall = time.perf_counter() - started
  if failures:
    raise SystemExit(f'{len(failures)} requests failed: {sorted(set(failures))}')
  milliseconds = np.array(latencies) * 1000
  return {'requests': len(latencies), 'clients': clients, 'wall_seconds': wall,
          'p50_ms': float(np.percentile(milliseconds, 50)),
          'p95_ms': float(np.percentile(milliseconds, 95)),
          'p99_ms': float(np.percentile(milliseconds, 99)),
          'requests_per_second': len(latencies) / wall}


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--serving-root', default=ServerSettings().serving_root)
  parser.add_argument('--requests', type=int, default=300,
                      help='single-abstract requests per phase')
  parser.add_argument('--batch-size', type=int, default=128)
  parser.add_argument('--batches', type=int, default=30)
  parser.add_argument('--seconds', type=float, default=60, help='time limit per phase')
  parser.add_argument('--output', default=os.path.join(REPOSITORY_ROOT, 'outputs',
                                                       'bench_serve.json'))
  args = parser.parse_args(argv)

  papers = list(itertools.islice(read_abstracts(SAMPLE_DATA),
                                 max(args.requests, args.batch_size * 4)))
  singles = [json.dumps({'instances': [{'title': title, 'abstract': abstract}]}).encode()
             for _, title, abstract in papers]
  singles = (singles * (args.requests // len(singles) + 1))[:args.requests]
  batches = [json.dumps({'instances': [{'title': t, 'abstract': a} for _, t, a in
                                       papers[i:i + args.batch_size]]}).encode()
             for i in range(0, len(papers) - args.batch_size + 1, args.batch_size)]
  batches = (batches * (args.batches // len(batches) + 1))[:args.batches]

  port = free_port()
  server = start_server(args.serving_root, port, max_batch_size=args.batch_size)
  try:
    load(port, singles[:20], 1, args.seconds)  # Warm-up: traces and caches, not measured.
    results = {
        'single, 1 client': load(port, singles, 1, args.seconds),
        'single, 8 clients': load(port, singles, 8, args.seconds),
        f'batches of {args.batch_size}, 2 clients': load(port, batches, 2, args.seconds),
    }
  finally:
    server.terminate()
    server.wait()
  batched = results[f'batches of {args.batch_size}, 2 clients']
  batched['abstracts_per_second'] = batched['requests_per_second'] * args.batch_size

  lines = ['| load | requests | p50 ms | p95 ms | p99 ms | requests/s | abstracts/s |',
           '|---|---|---|---|---|---|---|']
  for name, r in results.items():
    lines.append(f'| {name} | {r["requests"]} | {r["p50_ms"]:.1f} | {r["p95_ms"]:.1f} | '
                 f'{r["p99_ms"]:.1f} | {r["requests_per_second"]:.0f} | '
                 f'{r.get("abstracts_per_second", r["requests_per_second"]):.0f} |')
  print('\n'.join(lines))
  os.makedirs(os.path.dirname(args.output), exist_ok=True)
  with open(args.output, 'w') as f:
    json.dump({'serving_root': args.serving_root, 'results': results}, f, indent=2)
  print(f'\nwritten to {args.output}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
