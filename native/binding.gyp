{
  "targets": [
    {
      "target_name": "meshcache_native",
      "sources": ["src/reuseport.cc"],
      "cflags": ["-O2", "-Wall"],
      "cflags_cc": ["-O2", "-Wall"]
    }
  ]
}
