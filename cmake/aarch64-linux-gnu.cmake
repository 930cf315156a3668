# Cross-compiles for arm64 (AWS Graviton) on Debian with g++-aarch64-linux-gnu and the :arm64
# multiarch -dev packages (scripts/install-deps.sh package installs both):
#   cmake -S . -B build/release-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DCMAKE_BUILD_TYPE=Release -DELK_STATIC=ON -DELK_TESTS=OFF
# Debian's multiarch puts the arm64 libraries and CMake package files in /usr/lib/aarch64-linux-gnu
# and shares /usr/include (architecture-specific headers in /usr/include/aarch64-linux-gnu), so the
# root path is "/" and CMAKE_LIBRARY_ARCHITECTURE selects the arm64 directories.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_STRIP aarch64-linux-gnu-strip)
set(CMAKE_AR aarch64-linux-gnu-ar CACHE FILEPATH "")
set(CMAKE_RANLIB aarch64-linux-gnu-ranlib CACHE FILEPATH "")

# Programs (git, ccache) come from the build machine; libraries, headers and package files only
# from the arm64 multiarch directories.
set(CMAKE_FIND_ROOT_PATH /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_PREFIX_PATH /usr/lib/aarch64-linux-gnu/cmake)

# FindOpenSSL asks pkg-config first: point it at the arm64 .pc files, or it answers with the
# build machine's /usr/lib/x86_64-linux-gnu/libssl.a.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# try_run() and CTest run arm64 programs through qemu-user.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
