/* supervisor/conn.h */
