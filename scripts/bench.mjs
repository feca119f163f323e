// `npm run bench`: see bench/README.md. Filled in by the benchmark issue.
console.error('The benchmark suite is not written yet (issue: Benchmarks). Nothing was measured.')
process.exit(1)
