/* supervisor/route.h */
