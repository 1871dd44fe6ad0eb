/* supervisor/pool.h */
