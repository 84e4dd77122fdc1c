"""`make bench-serve`: latency and throughput of the prediction server on loopback.

Starts `python -m serving.server` on the newest pushed model, then, with real
abstracts from the bundled sample: single-abstract requests from 1 and from 8
concurrent clients (p50 / p95 / p99 latency), and batched requests (abstracts per
second); then the same loads from `wrk` (Debian's HTTP load generator, C and epoll:
the Python clients above cost CPU the server would otherwise have) when it is
installed. Every phase is bounded by a request count and a time limit.

    python -m benchmarks.serve [--serving-root DIR] [--requests 300] [--seconds 60]
        [--server-flag=--no-enable-batching ...]
"""

import argparse
import http.client
import shutil
import tempfile
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


def start_server(serving_root: str, port: int, max_batch_size: int,
                 flags: List[str]) -> subprocess.Popen:
  """The server in a process of its own, once its status endpoint shows a model loaded."""
  process = subprocess.Popen(
      [sys.executable, '-m', 'serving.server', '--serving-root', serving_root, '--port',
       str(port), '--max-batch-size', str(max_batch_size), *flags],
      cwd=REPOSITORY_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.monotonic() + 120
  while time.monotonic() < deadline:
    if process.poll() is not None:
      raise SystemExit(f'the server exited with {process.returncode}')
    try:
      connection = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
      connection.request('GET', f'/v1/models/{ServerSettings().model_name}')
      response = connection.getresponse()
      # 200 with no version while the serving root holds no model yet: not ready.
      if response.status == 200 and json.loads(response.read())['model_version_status']:
        return process
    except OSError:
      pass
    time.sleep(0.5)
  process.kill()
  raise SystemExit(f'the server loaded no model from {serving_root} within 120 s')


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


# wrk's script: POST one body, stop each thread after its share of the requests,
# and print the figures as JSON (latencies in microseconds).
_WRK_SCRIPT = """
local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local limit = tonumber(os.getenv("WRK_REQUESTS_PER_THREAD"))
local count = 0
response = function(status, headers, body)
  count = count + 1
  if count >= limit then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "non_2xx": %d, ' ..
      '"socket_errors": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\\n', summary.requests,
      summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def wrk_load(port: int, body: bytes, connections: int, requests: int,
             seconds: float) -> Dict[str, float]:
  """`wrk` sending `body` from `connections` connections (one thread each, at most 2),
  `requests` in all or until `seconds` pass."""
  threads = min(2, connections)
  with tempfile.TemporaryDirectory() as directory:
    script, body_file = (os.path.join(directory, name) for name in ('post.lua', 'body.json'))
    with open(script, 'w') as f:
      f.write(_WRK_SCRIPT)
    with open(body_file, 'wb') as f:
      f.write(body)
    completed = subprocess.run(
        ['wrk', f'-t{threads}', f'-c{connections}', f'-d{max(1, int(seconds))}s', '-s', script,
         f'http://127.0.0.1:{port}/v1/models/{ServerSettings().model_name}:predict'],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
        env={**os.environ, 'WRK_BODY': body_file,
             'WRK_REQUESTS_PER_THREAD': str(max(1, requests // threads))})
  line = next(line for line in completed.stdout.splitlines() if line.startswith('WRK '))
  figures = json.loads(line[len('WRK '):])
  if figures['non_2xx'] or figures['socket_errors']:
    raise SystemExit(f'wrk: {figures["non_2xx"]} non-2xx answers, '
                     f'{figures["socket_errors"]} socket errors')
  wall = figures['duration_us'] / 1e6
  return {'requests': figures['requests'], 'clients': connections, 'wall_seconds': wall,
          'p50_ms': figures['p50_us'] / 1000, 'p95_ms': figures['p95_us'] / 1000,
          'p99_ms': figures['p99_us'] / 1000, 'requests_per_second': figures['requests'] / wall}


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--serving-root', default=ServerSettings().serving_root)
  parser.add_argument('--requests', type=int, default=300,
                      help='single-abstract requests per phase')
  parser.add_argument('--batch-size', type=int, default=128)
  parser.add_argument('--batches', type=int, default=30)
  parser.add_argument('--seconds', type=float, default=60, help='time limit per phase')
  parser.add_argument('--server-flag', action='append', default=[],
                      help='a flag for the server, e.g. --server-flag=--no-enable-batching')
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
  server = start_server(args.serving_root, port, max_batch_size=args.batch_size,
                        flags=args.server_flag)
  try:
    load(port, singles[:20], 1, args.seconds)  # Warm-up: traces and caches, not measured.
    batched = f'batches of {args.batch_size}, 2 clients'
    results = {
        'single, 1 client': load(port, singles, 1, args.seconds),
        'single, 8 clients': load(port, singles, 8, args.seconds),
        batched: load(port, batches, 2, args.seconds),
    }
    if shutil.which('wrk'):
      # wrk's figures are per its whole duration: the time limit binds, the count is a cap.
      seconds = min(args.seconds, 10)
      results.update({
          'wrk: single, 8 connections': wrk_load(port, singles[0], 8, args.requests * 100,
                                                 seconds),
          f'wrk: {batched}': wrk_load(port, batches[0], 2, args.batches * 100, seconds),
      })
    else:
      print('wrk is not installed (Debian: apt-get install wrk): its phases are left out')
  finally:
    server.terminate()
    server.wait()
  for name, result in results.items():
    if name.endswith(batched):
      result['abstracts_per_second'] = result['requests_per_second'] * args.batch_size

  lines = ['| load | requests | p50 ms | p95 ms | p99 ms | requests/s | abstracts/s |',
           '|---|---|---|---|---|---|---|']
  for name, r in results.items():
    lines.append(f'| {name} | {r["requests"]} | {r["p50_ms"]:.1f} | {r["p95_ms"]:.1f} | '
                 f'{r["p99_ms"]:.1f} | {r["requests_per_second"]:.0f} | '
                 f'{r.get("abstracts_per_second", r["requests_per_second"]):.0f} |')
  print('\n'.join(lines))
  os.makedirs(os.path.dirname(args.output), exist_ok=True)
  with open(args.output, 'w') as f:
    json.dump({'serving_root': args.serving_root, 'server_flags': args.server_flag,
               'results': results}, f, indent=2)
  print(f'\nwritten to {args.output}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
