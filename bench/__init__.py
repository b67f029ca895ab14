"""Side-by-side benchmarks of cellhub and Jupyter Server + ipykernel; see docs/performance.md."""
