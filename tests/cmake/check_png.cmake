# The README example's PNG: a file that starts with the PNG signature and is a grid of 4 images of
# 32x32 (sit::image::save_image, padding 2: 2 + 4 x 34 = 138 by 36 pixels).
file(READ ${PNG} header LIMIT 24 HEX)
string(SUBSTRING "${header}" 0 16 signature)
if(NOT signature STREQUAL "89504e470d0a1a0a")
  message(FATAL_ERROR "${PNG}: not a PNG (starts ${signature})")
endif()
string(SUBSTRING "${header}" 32 16 size)  # IHDR's width and height, big-endian
if(NOT size STREQUAL "0000008a00000024")
  message(FATAL_ERROR "${PNG}: ${size} is not 138 x 36 pixels")
endif()
message(STATUS "${PNG}: a 138 x 36 PNG")
