/* supervisor/dispatch.h */
