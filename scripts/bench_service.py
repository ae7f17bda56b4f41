"""Load on the orders service, as users would put it: one client against sixteen, same run.

Used by scripts/bench-service.sh, which starts the database and the service (debug build, as
the e2e test runs it). Prints, for each phase, the requests per second, the median and 99th
percentile latency and how many requests went unanswered (no HTTP answer within 60 s), then the
ratios the goals are stated in.

    python3 scripts/bench_service.py URL POSITIONS
"""

import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

TIMEOUT = 60.0


class Client:
    """One keep-alive connection, as a browser or an API client holds one."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.connection = None

    def post(self, path, body):
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            try:
                self.connection.request("POST", path, body=data, headers=headers)
                response = self.connection.getresponse()
                return response.status, json.loads(response.read() or b"null")
            except (ConnectionError, http.client.HTTPException) as err:
                # The server closed a keep-alive connection between requests: once more, fresh.
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise err
        raise AssertionError("unreachable")


def run(url, clients, per_client, work):
    """`clients` threads doing `work(client, i)` `per_client` times: (req/s, latencies, failures)."""
    latencies, failures, lock = [], [], threading.Lock()

    def worker(c):
        client = Client(url)
        for i in range(per_client):
            start = time.perf_counter()
            try:
                status, body = work(client, c, i)
                ok = status < 500
            except Exception as err:  # an unanswered request (timeout, reset)
                status, body, ok = None, repr(err), False
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if not ok:
                    failures.append((status, body))

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return clients * per_client / (time.perf_counter() - start), latencies, failures


def p(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name, result):
    rate, latencies, failures = result
    print(
        f"  {name:<34} {rate:7.1f} req/s   p50 {statistics.median(latencies) * 1000:7.1f} ms   "
        f"p99 {p(latencies, 0.99) * 1000:8.1f} ms   unanswered or 5xx: {len(failures)}"
    )
    for failure in failures[:3]:
        print(f"    {failure}")
    return rate, p(latencies, 0.99), len(failures)


def place(tag):
    def work(client, c, i):
        body = {"id": f"{tag}-{c}-{i}", "customer": f"customer-{c}", "lines": [{"sku": "s1", "quantity": 1, "price_cents": 950}]}
        return client.post("/orders", body)

    return work


def main():
    url, positions = sys.argv[1], sys.argv[2]
    print(f"service at {url}, positions {positions}")
    one = report("POST /orders, 1 client", run(url, 1, 120, place(f"{positions}-one")))
    many = report("POST /orders, 16 clients", run(url, 16, 40, place(f"{positions}-many")))
    print(
        f"  16 / 1 clients: throughput {many[0] / one[0]:.2f}x (goal >= 1), "
        f"p99 {many[1] / one[1]:.1f}x (goal <= 10), unanswered {many[2]} (goal 0)"
    )


if __name__ == "__main__":
    main()
