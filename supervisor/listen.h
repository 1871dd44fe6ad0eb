/* supervisor/listen.h */
