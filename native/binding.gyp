{
  "targets": [
    {
      "target_name": "meshcache_native",
      "sources": ["src/reuseport.cc", "src/malloc.cc"],
      "cflags": ["-O2", "-Wall"],
      "cflags_cc": ["-O2", "-Wall"]
    }
  ]
}
