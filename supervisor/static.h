/* supervisor/static.h */
