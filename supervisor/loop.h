/* supervisor/loop.h */
