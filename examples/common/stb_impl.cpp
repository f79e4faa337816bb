// The one translation unit that compiles stb_image_write's implementation for
// the examples (see examples/common/figure.hpp). Link it into every example
// that writes images.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if __has_include(<stb/stb_image_write.h>)
#include <stb/stb_image_write.h>
#else
#include <stb_image_write.h>
#endif
