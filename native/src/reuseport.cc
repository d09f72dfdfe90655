// meshcache's optional native addon (Node-API, C): listening sockets with SO_REUSEPORT, so that
// several server threads each accept their own connections on one port and the kernel balances
// new connections between them. Node 20 has no reusePort option for net.Server (it came in 22.12)
// and worker threads cannot receive socket handles, hence this addon. Every function checks its
// arguments and reports failures as JS errors with errno text; nothing here can crash the process.
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value Throw(napi_env env, const char* what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, "ERR_NATIVE_SOCKET", msg);
  return nullptr;
}

// listenReusePort(host: string, port: number, backlog: number): { fd: number, port: number }
// Binds a non-blocking TCP socket with SO_REUSEADDR and SO_REUSEPORT and listens on it. Port 0
// picks a free port; pass the returned port to later calls to share it.
static napi_value ListenReusePort(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "listenReusePort(host, port, backlog) takes three arguments");
    return nullptr;
  }
  char host[256];
  size_t hostLen = 0;
  if (napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hostLen) != napi_ok || hostLen == 0 || hostLen >= sizeof host - 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "host must be a non-empty string under 255 bytes");
    return nullptr;
  }
  int32_t port = 0, backlog = 0;
  if (napi_get_value_int32(env, argv[1], &port) != napi_ok || port < 0 || port > 65535) {
    napi_throw_range_error(env, "ERR_INVALID_ARG", "port must be an integer from 0 to 65535");
    return nullptr;
  }
  if (napi_get_value_int32(env, argv[2], &backlog) != napi_ok || backlog < 1 || backlog > 65535) {
    napi_throw_range_error(env, "ERR_INVALID_ARG", "backlog must be an integer from 1 to 65535");
    return nullptr;
  }
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo* res = nullptr;
  int gai = getaddrinfo(host, service, &hints, &res);
  if (gai != 0 || res == nullptr) {
    char msg[320];
    snprintf(msg, sizeof msg, "cannot resolve %s: %s", host, gai_strerror(gai));
    napi_throw_error(env, "ERR_NATIVE_SOCKET", msg);
    return nullptr;
  }
  int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
  if (fd < 0) {
    int e = errno;
    freeaddrinfo(res);
    return Throw(env, "socket", e);
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int e = errno;
    close(fd);
    freeaddrinfo(res);
    return Throw(env, "setsockopt(SO_REUSEPORT)", e);
  }
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
    int e = errno;
    close(fd);
    freeaddrinfo(res);
    return Throw(env, "bind", e);
  }
  freeaddrinfo(res);
  if (listen(fd, backlog) != 0) {
    int e = errno;
    close(fd);
    return Throw(env, "listen", e);
  }
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  int boundPort = port;
  if (getsockname(fd, (struct sockaddr*)&addr, &len) == 0) {
    if (addr.ss_family == AF_INET) boundPort = ntohs(((struct sockaddr_in*)&addr)->sin_port);
    else if (addr.ss_family == AF_INET6) boundPort = ntohs(((struct sockaddr_in6*)&addr)->sin6_port);
  }
  napi_value out, vfd, vport;
  napi_create_object(env, &out);
  napi_create_int32(env, fd, &vfd);
  napi_create_int32(env, boundPort, &vport);
  napi_set_named_property(env, out, "fd", vfd);
  napi_set_named_property(env, out, "port", vport);
  return out;
}

// closeFd(fd: number): closes a descriptor that was never handed to Node.
static napi_value CloseFd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "closeFd(fd) takes a non-negative integer");
    return nullptr;
  }
  close(fd);
  return nullptr;
}

napi_value InitMalloc(napi_env env, napi_value exports);  // malloc.cc

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"listenReusePort", nullptr, ListenReusePort, nullptr, nullptr, nullptr, napi_default, nullptr},
    {"closeFd", nullptr, CloseFd, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return InitMalloc(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
